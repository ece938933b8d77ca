// Package startgc keeps the garbage collector off while the binary's packages
// initialise: client-go's scheme, the Kubernetes and etcd protobuf types and
// metrics allocate ~3.6 MB before main runs, enough to start a collection
// that every command, however quick, paid for (~7 ms of the ~85 ms of CPU of
// `k8s-single version` on a 2-core machine, issue 12) and that frees nothing
// anyway: package-level state lives as long as the process.
//
// Go initialises packages in import-path order as soon as their imports are
// done, so this one, with nothing but runtime/debug, runs before client-go's
// scheme, k8s.io/api and etcd's API packages (TestGCOffBeforeHeavyInit in
// cmd/k8s-single checks it); ~1 MB is allocated before it. main must call
// Done first thing; the package must not do anything else.
package startgc

import "runtime/debug"

// percent is GOGC's value (100 unless the environment says otherwise).
var percent = debug.SetGCPercent(-1)

// Done turns the garbage collector back on with GOGC's value.
func Done() { debug.SetGCPercent(percent) }
