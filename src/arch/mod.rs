//! x86_64 hardware and hypervisor access (placeholder).
