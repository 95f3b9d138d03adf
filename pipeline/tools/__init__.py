"""Tools beside the runtime, never imported by it: the demo and its data, the end-to-end
benchmark and its Faust-free baseline, failure drills, alert scenarios, the text-stage
benchmark, and starting worker processes for them."""
