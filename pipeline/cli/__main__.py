"""``python -m pipeline.cli``: how the tools start worker processes."""

from pipeline.cli import main

main()
