"""What every side shares: params, errors, files written atomically, devices, pixels, tracking."""
