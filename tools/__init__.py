"""Programs the gates and CI run (the pull-request comparison): beside the zoo, never installed with it."""
