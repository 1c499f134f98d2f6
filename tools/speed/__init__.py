"""The speed table: gapnet's recipe beside the seed pipeline."""
