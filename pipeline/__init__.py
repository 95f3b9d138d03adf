"""voc-pipeline: the app factory, the CLI, and the pure logic of every stage."""
