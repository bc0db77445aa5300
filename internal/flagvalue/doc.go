// Package flagvalue holds the pflag.Value types and validators behind the
// container flags of the CLI (-e, -l, --mount, --gpus, --network, -m, ...).
//
// They accept and refuse exactly what the docker CLI's opts package does,
// with the same error texts, so scripts written against docker see the same
// results. We keep our own copy because that package links the moby API
// client (for its filter type), whose dependencies cost milliseconds of
// package initialisation at every start of the binary, and the binary is
// also every container's init and exec process.
//
// Nothing here may compile a regular expression or build a table at
// package init: that would bring back the cost this package exists to avoid.
package flagvalue
