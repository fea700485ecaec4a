"""Smart charging: planning (pure), baselines, the scenario and plan formats."""
