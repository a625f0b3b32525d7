# sam build (BuildMethod: makefile) runs build-ApiFunction with ARTIFACTS_DIR set.
# All packaging logic lives in scripts/package-function.sh, so SAM, build.sh and the tests share it.
build-ApiFunction:
	./scripts/package-function.sh "$(ARTIFACTS_DIR)"
