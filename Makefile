# sam build (BuildMethod: makefile) runs build-ApiFunction with ARTIFACTS_DIR set.
# All packaging logic lives in scripts/package-function.sh, so SAM, build.sh and the tests share it.
build-ApiFunction:
	./scripts/package-function.sh "$(ARTIFACTS_DIR)"

# The erasure function runs the same code (its handler is erasure_handler.handler).
build-ErasureFunction:
	./scripts/package-function.sh "$(ARTIFACTS_DIR)"

# The cursor-key rotation function: one file on the Lambda runtime's boto3 (template.yaml).
build-CursorKeyRotationFunction:
	cp rotation/cursor_key.py "$(ARTIFACTS_DIR)/"
