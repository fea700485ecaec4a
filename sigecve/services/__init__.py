"""The one service layer REST, MCP, the CLI and the charge-point actors all call."""
