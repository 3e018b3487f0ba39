"""What the user asks for, made exact: recipes (TOML files, validated), variants (`3.14t+debug`),
and `resolve`, which turns a request and its options into the recipe to build and the build's name."""
