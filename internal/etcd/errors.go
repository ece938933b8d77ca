package etcd

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/k8s-single/k8s-single/internal/etcdconn"
)

// explainConnection says why no connection to endpoints could be made or
// used, by probing each directly: gRPC only reports that it had none.
func (c *Client) explainConnection(ctx context.Context, endpoints []string) error {
	var errs []error
	for _, ep := range endpoints {
		if err := etcdconn.Probe(ctx, c.opts, ep, c.tls); err != nil {
			errs = append(errs, etcdconn.Diagnose(c.opts, ep, err))
		}
	}
	if len(errs) == 0 {
		return etcdconn.NotAnswering(c.opts, strings.Join(endpoints, ","))
	}
	return errors.Join(errs...)
}

// reachable reports whether any endpoint accepts our TLS connection now.
func (c *Client) reachable(ctx context.Context, endpoints []string) bool {
	for _, ep := range endpoints {
		if etcdconn.Probe(ctx, c.opts, ep, c.tls) == nil {
			return true
		}
	}
	return false
}

func isConnectionError(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return errors.Is(err, errNotConnected) || errors.Is(err, context.DeadlineExceeded)
}

// withoutRPCDump keeps a gRPC status error's message and drops its
// "rpc error: code = ... desc =" wrapping; etcd's own errors are already plain.
func withoutRPCDump(err error) error {
	if s, ok := status.FromError(err); ok {
		return errors.New(s.Message())
	}
	return err
}
