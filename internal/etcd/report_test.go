package etcd_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/golden"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// reports are fixed results of every kind the etcd commands print.
var reports = map[string]any{
	"health": etcdconn.HealthReport{
		{Endpoint: "https://127.0.0.1:2379", Healthy: true, Took: 1500 * time.Microsecond},
		{Endpoint: "https://10.0.0.5:2379", Took: 2 * time.Millisecond, Error: "etcd https://10.0.0.5:2379: connection refused: nothing listens there"},
	},
	"status": etcd.StatusReport{{
		Endpoint: "https://127.0.0.1:2379", Version: "3.7.3", DBSize: 20480, DBSizeInUse: 16384,
		Leader: 0x8e9e05c52164694d, MemberID: 0x8e9e05c52164694d, IsLeader: true,
		RaftTerm: 2, RaftIndex: 42, RaftAppliedIndex: 42, Errors: []string{"NOSPACE"},
	}},
	"members": etcd.MemberList{{
		ID: 0x8e9e05c52164694d, Name: "node-1",
		PeerURLs: []string{"https://10.0.0.5:2380"}, ClientURLs: []string{"https://10.0.0.5:2379", "https://127.0.0.1:2379"},
	}},
	"kv": etcd.KVList{
		{Key: "/registry/a", Value: "one", CreateRevision: 2, ModRevision: 5, Version: 3},
		{Key: "/registry/bin", Value: "k8s\x00\n\x0c", CreateRevision: 6, ModRevision: 6, Version: 1},
	},
	"snapshot": etcd.SnapshotInfo{Path: "/var/lib/k8s-single/backup.db", Hash: 0xfe01cf57, Revision: 42, TotalKeys: 7, TotalSize: 24576, Version: "3.7.0"},
}

// TestReportsPrint renders every report in every format against the golden
// files in testdata/ (go test -run TestReportsPrint -update rewrites them).
func TestReportsPrint(t *testing.T) {
	for name, v := range reports {
		for _, format := range printer.Formats {
			t.Run(name+"."+format, func(t *testing.T) {
				var out bytes.Buffer
				if err := printer.Print(&out, format, v); err != nil {
					t.Fatal(err)
				}
				golden.Check(t, filepath.Join("testdata", name+"."+format), out.Bytes())
			})
		}
	}
}
