"""One module per workload; each defines ``workload(quick) -> Workload``."""
