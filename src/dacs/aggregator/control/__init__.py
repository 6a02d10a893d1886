"""Control: capacity profiles, the closed loop, commands to homes."""
