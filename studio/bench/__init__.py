"""Speed measurements that print JSON; absolute times compare only within one run."""
