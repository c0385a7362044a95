"""Forward-only migrations: modules named `mNNNN_name` with a `SQL` script; never edit an applied one."""
