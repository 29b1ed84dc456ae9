"""semgrep rules (YAML) for languages other than Python, each beside its annotated test target."""
