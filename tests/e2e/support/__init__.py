"""The e2e suites' support code: the `pulumi` wrapper, HTTP, engine events, load, the engine."""
