"""Running mlpack commands on a device over SSH: the transport, jobs, the device-side agent, targets."""
