"""Local tooling, never shipped: the template-driven local AWS stack, the --lambda proxy, tokens."""
