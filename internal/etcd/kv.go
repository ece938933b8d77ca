package etcd

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// KV is one key and its value with etcd's revision bookkeeping.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// CreateRevision and ModRevision are the store revisions of the key's
	// creation and last change; Version counts its changes since creation.
	CreateRevision int64 `json:"createRevision"`
	ModRevision    int64 `json:"modRevision"`
	Version        int64 `json:"version"`
}

// Get returns key, or every key starting with key when prefix is set, sorted
// by key, like `etcdctl get [--prefix] [--keys-only]`. keysOnly leaves the
// values empty.
func (c *Client) Get(ctx context.Context, key string, prefix, keysOnly bool) (KVList, error) {
	var opts []clientv3.OpOption
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	if keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	var resp *clientv3.GetResponse
	err := c.run(ctx, c.all, func(ctx context.Context) (err error) {
		resp, err = c.all.Get(ctx, key, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	kvs := make(KVList, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		kvs[i] = KV{
			Key:            string(kv.Key),
			Value:          string(kv.Value),
			CreateRevision: kv.CreateRevision,
			ModRevision:    kv.ModRevision,
			Version:        kv.Version,
		}
	}
	return kvs, nil
}

// Put sets key to value like `etcdctl put`.
func (c *Client) Put(ctx context.Context, key, value string) error {
	return c.run(ctx, c.all, func(ctx context.Context) error {
		_, err := c.all.Put(ctx, key, value)
		return err
	})
}

// Delete removes key, or every key starting with key when prefix is set, like
// `etcdctl del [--prefix]`, and returns how many keys it removed.
func (c *Client) Delete(ctx context.Context, key string, prefix bool) (int64, error) {
	var opts []clientv3.OpOption
	if prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	var resp *clientv3.DeleteResponse
	err := c.run(ctx, c.all, func(ctx context.Context) (err error) {
		resp, err = c.all.Delete(ctx, key, opts...)
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.Deleted, nil
}
