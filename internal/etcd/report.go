package etcd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/k8s-single/k8s-single/internal/printer"
)

// StatusReport is the result of Status; it prints like `etcdctl endpoint status`.
type StatusReport []EndpointStatus

// MemberList is the result of Members; it prints like `etcdctl member list`.
type MemberList []Member

// KVList is the result of Get; it prints like `etcdctl get`.
type KVList []KV

// Table returns one row per endpoint.
func (r StatusReport) Table() (header []string, rows [][]string) {
	header = []string{"endpoint", "ID", "version", "db size", "in use", "is leader", "raft term", "raft index", "raft applied index", "errors"}
	for _, s := range r {
		rows = append(rows, []string{
			s.Endpoint,
			hexID(s.MemberID),
			s.Version,
			printer.Bytes(s.DBSize),
			printer.Bytes(s.DBSizeInUse),
			strconv.FormatBool(s.IsLeader),
			decimal(s.RaftTerm),
			decimal(s.RaftIndex),
			decimal(s.RaftAppliedIndex),
			strings.Join(s.Errors, ", "),
		})
	}
	return header, rows
}

// Table returns one row per member.
func (l MemberList) Table() (header []string, rows [][]string) {
	header = []string{"ID", "status", "name", "peer addrs", "client addrs", "is learner"}
	for _, m := range l {
		status := "started"
		if m.Name == "" {
			status = "unstarted"
		}
		rows = append(rows, []string{
			hexID(m.ID),
			status,
			m.Name,
			strings.Join(m.PeerURLs, ","),
			strings.Join(m.ClientURLs, ","),
			strconv.FormatBool(m.IsLearner),
		})
	}
	return header, rows
}

// Table returns one row per key.
func (l KVList) Table() (header []string, rows [][]string) {
	header = []string{"key", "value", "create revision", "mod revision", "version"}
	for _, kv := range l {
		rows = append(rows, []string{
			kv.Key,
			kv.Value,
			strconv.FormatInt(kv.CreateRevision, 10),
			strconv.FormatInt(kv.ModRevision, 10),
			strconv.FormatInt(kv.Version, 10),
		})
	}
	return header, rows
}

// Lines returns etcdctl get's simple form: each key, then its value.
func (l KVList) Lines() []string {
	lines := make([]string, 0, 2*len(l))
	for _, kv := range l {
		lines = append(lines, kv.Key, kv.Value)
	}
	return lines
}

// Table returns the snapshot's one row, like `etcdutl snapshot status -w table`.
func (s SnapshotInfo) Table() (header []string, rows [][]string) {
	header = []string{"path", "hash", "revision", "total keys", "total size", "version"}
	rows = [][]string{{
		s.Path,
		fmt.Sprintf("%x", s.Hash),
		strconv.FormatInt(s.Revision, 10),
		strconv.Itoa(s.TotalKeys),
		printer.Bytes(s.TotalSize),
		s.Version,
	}}
	return header, rows
}

func hexID(id uint64) string { return strconv.FormatUint(id, 16) }

func decimal(n uint64) string { return strconv.FormatUint(n, 10) }
