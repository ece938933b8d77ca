// Package backup owns k8s-single's backup archives: one tar.gz per backup
// holding a verified etcd snapshot, the PKI directory, the encryption key,
// the config k8s-single keeps and the journal, led by a manifest with the
// size, mode and sha256 of every member. It creates archives, verifies them
// member by member, restores them onto a reset node and prunes old ones.
//
// It must not start, stop or configure anything (the phases do, on the next
// `k8s-single up`), restore the journal (the next up records everything
// anew), write a byte of an archive it has not fully verified, or write
// outside the few host paths its members map to.
package backup
