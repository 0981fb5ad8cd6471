"""Rule data, one folder per engine version; installed as the data package prodscale.rules."""
