package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// Decode splits a multi-document YAML manifest into objects; empty
// documents are skipped, and a document without kind or name is an error.
func Decode(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode manifest document %d: %w", len(objs)+1, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("manifest document %d has no kind or metadata.name", len(objs)+1)
		}
		objs = append(objs, u)
	}
}

// Applier applies objects with server-side apply as FieldManager.
type Applier struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

// NewApplier connects with a kubeconfig.
func NewApplier(kubeconfigPath string) (*Applier, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfigPath, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// Apply server-side-applies every object in order. Fields another manager
// set (a user's later edit) are taken back, as kubeadm does for its addons:
// the install owns these objects.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("apply %s %s: the apiserver does not serve it: %w", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = a.dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = a.dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// WaitRollout waits until a Deployment's newest generation is fully
// available, printing to out (indented) what it waits for and, every 10 s,
// the replicas so far.
func WaitRollout(ctx context.Context, cs kubernetes.Interface, namespace, name string, timeout time.Duration, out io.Writer) error {
	_, err := poll.Wait{What: "deployment " + namespace + "/" + name + " to roll out", Timeout: timeout, Interval: time.Second,
		Say: poll.Lines(out, "      "),
		Expired: func(state string) error {
			return fmt.Errorf("deployment %s/%s not rolled out within %s: %s", namespace, name, timeout, state)
		},
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "not found yet", nil
		}
		return rolledOut(d), fmt.Sprintf("%d/%d available, %d updated", d.Status.AvailableReplicas, replicas(d), d.Status.UpdatedReplicas), nil
	})
	return err
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// rolledOut is kubectl rollout status's condition.
func rolledOut(d *appsv1.Deployment) bool {
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.UpdatedReplicas == replicas(d) &&
		d.Status.Replicas == replicas(d) &&
		d.Status.AvailableReplicas == replicas(d)
}
