package etcd

import (
	"context"
	"fmt"
	"slices"
)

// EnsurePeerURLs sets the advertised peer URLs of the member called name to
// urls when they differ, as `etcdctl member update` does: after the node's
// address changed, etcd listens on the new one but its membership still
// advertises the old one. It reports whether it changed anything.
func (c *Client) EnsurePeerURLs(ctx context.Context, name string, urls []string) (bool, error) {
	members, err := c.Members(ctx)
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(members, func(m Member) bool { return m.Name == name })
	if i < 0 {
		return false, fmt.Errorf("etcd has no member %s (members: %v); the data dir belongs to another node", name, members)
	}
	if slices.Equal(slices.Sorted(slices.Values(members[i].PeerURLs)), slices.Sorted(slices.Values(urls))) {
		return false, nil
	}
	err = c.run(ctx, c.all, func(ctx context.Context) error {
		_, err := c.all.MemberUpdate(ctx, members[i].ID, urls)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update the peer URLs of etcd member %s to %v: %w", name, urls, err)
	}
	return true, nil
}
