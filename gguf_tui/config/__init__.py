"""What the user configures: config.toml and state.json (settings), the servers in it,
the settings screen's options, and logging."""
