"""Pictures and reports a person looks at (contact sheets, later confusion matrices, curves)."""
