"""The full accuracy gate as a CI matrix (plan) and its verdict over the matrix's runs."""
