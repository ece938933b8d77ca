package etcd

import (
	"context"
	"errors"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/k8s-single/k8s-single/internal/etcdconn"
)

// EndpointStatus is one endpoint's `etcdctl endpoint status`.
type EndpointStatus struct {
	Endpoint string `json:"endpoint"`
	// Version is the etcd server version, e.g. 3.7.3.
	Version string `json:"version"`
	// DBSize is the database's allocated size in bytes, DBSizeInUse the part in use.
	DBSize      int64 `json:"dbSize"`
	DBSizeInUse int64 `json:"dbSizeInUse"`
	// Leader is the member ID this member believes leads; MemberID is its own.
	Leader   uint64 `json:"leader"`
	MemberID uint64 `json:"memberID"`
	IsLeader bool   `json:"isLeader"`
	RaftTerm uint64 `json:"raftTerm"`
	// RaftIndex is the committed raft index, RaftAppliedIndex the applied one.
	RaftIndex        uint64 `json:"raftIndex"`
	RaftAppliedIndex uint64 `json:"raftAppliedIndex"`
	// Errors are the alarms and health problems the member reports.
	Errors []string `json:"errors,omitempty"`
}

// Member is one etcd cluster member.
type Member struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
	// PeerURLs and ClientURLs are the URLs the member advertises.
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	IsLearner  bool     `json:"isLearner"`
}

// Health checks every endpoint at once with etcd's own /health, as
// etcdconn.Health does (no alarm, a leader, a linearizable read).
func (c *Client) Health(ctx context.Context) etcdconn.HealthReport {
	return etcdconn.Health(ctx, c.opts, c.tls)
}

// Status returns each endpoint's status like `etcdctl endpoint status`. It
// returns the endpoints that answered, and an error naming those that did not.
func (c *Client) Status(ctx context.Context) (StatusReport, error) {
	var (
		report StatusReport
		errs   []error
	)
	for _, ep := range c.opts.Endpoints {
		s, err := c.endpointStatus(ctx, ep)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		report = append(report, s)
	}
	return report, errors.Join(errs...)
}

func (c *Client) endpointStatus(ctx context.Context, endpoint string) (EndpointStatus, error) {
	cli := c.byEndpoint[endpoint]
	var resp *clientv3.StatusResponse
	err := c.run(ctx, cli, func(ctx context.Context) (err error) {
		resp, err = cli.Status(ctx, endpoint)
		return err
	})
	if err != nil {
		return EndpointStatus{}, err
	}
	return EndpointStatus{
		Endpoint:         endpoint,
		Version:          resp.Version,
		DBSize:           resp.DbSize,
		DBSizeInUse:      resp.DbSizeInUse,
		Leader:           resp.Leader,
		MemberID:         resp.Header.GetMemberId(),
		IsLeader:         resp.Leader != 0 && resp.Leader == resp.Header.GetMemberId(),
		RaftTerm:         resp.RaftTerm,
		RaftIndex:        resp.RaftIndex,
		RaftAppliedIndex: resp.RaftAppliedIndex,
		Errors:           resp.Errors,
	}, nil
}

// Members returns the cluster's members like `etcdctl member list`.
func (c *Client) Members(ctx context.Context) (MemberList, error) {
	var resp *clientv3.MemberListResponse
	err := c.run(ctx, c.all, func(ctx context.Context) (err error) {
		resp, err = c.all.MemberList(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	members := make(MemberList, len(resp.Members))
	for i, m := range resp.Members {
		members[i] = Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner}
	}
	return members, nil
}
