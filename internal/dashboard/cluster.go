package dashboard

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/k8s-single/k8s-single/internal/kube"
)

// Remove deletes what k8s-single deployed for ui: its cluster-scoped objects
// (ClusterRoles, ClusterRoleBindings) and its namespace, which takes every
// namespaced object with it. An object without k8s-single's managed-by label
// (a dashboard the user installed by hand) is left alone. It returns a line
// per object it deleted or kept; Gone then says when the namespace has gone.
func Remove(ctx context.Context, cs kubernetes.Interface, ui UI) ([]string, error) {
	objs, err := ui.Objects(Params{})
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, o := range objs {
		var line string
		switch kind, name := o.GetKind(), o.GetName(); kind {
		case "Namespace":
			line, err = removeObject[*corev1.Namespace](ctx, cs.CoreV1().Namespaces(), kind, name)
		case "ClusterRole":
			line, err = removeObject[*rbacv1.ClusterRole](ctx, cs.RbacV1().ClusterRoles(), kind, name)
		case "ClusterRoleBinding":
			line, err = removeObject[*rbacv1.ClusterRoleBinding](ctx, cs.RbacV1().ClusterRoleBindings(), kind, name)
		default:
			continue // namespaced: deleted with the namespace
		}
		if err != nil {
			return lines, err
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines, nil
}

// getDeleter is the part of a typed client Remove uses.
type getDeleter[T metav1.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// removeObject deletes one cluster-scoped object if k8s-single made it, and
// says what it did ("" when there was nothing to do).
func removeObject[T metav1.Object](ctx context.Context, c getDeleter[T], kind, name string) (string, error) {
	got, err := c.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read %s %s: %w", kind, name, err)
	case !ours(got):
		return fmt.Sprintf("kept %s %s: it has no %s=%s label, so k8s-single did not create it", kind, name, labelManagedBy, kube.FieldManager), nil
	case got.GetDeletionTimestamp() != nil:
		return fmt.Sprintf("%s %s is already being deleted", kind, name), nil
	}
	uid := got.GetUID()
	err = c.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("delete %s %s: %w", kind, name, err)
	}
	return fmt.Sprintf("deleted %s %s", kind, name), nil
}

func ours(o metav1.Object) bool { return o.GetLabels()[labelManagedBy] == kube.FieldManager }

// Gone is the check of the wait after Remove: whether ui's namespace has
// gone (or was never k8s-single's), and its state while it has not.
func Gone(ctx context.Context, cs kubernetes.Interface, ui UI) (bool, string, error) {
	ns, err := cs.CoreV1().Namespaces().Get(ctx, ui.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true, "", nil
	case err != nil:
		return false, err.Error(), nil
	case !ours(ns):
		return true, "", nil
	}
	return false, fmt.Sprintf("namespace %s is %s", ns.Name, ns.Status.Phase), nil
}

// DropChangedBindings deletes k8s-single's ClusterRoleBindings whose role
// differs from the one objs give them: a binding's roleRef cannot change, so
// the apply would fail; after the delete it creates the binding anew (as when
// dashboard.adminClusterRole goes from cluster-admin to view). It returns a
// line per binding it deleted.
func DropChangedBindings(ctx context.Context, cs kubernetes.Interface, objs []*unstructured.Unstructured) ([]string, error) {
	var lines []string
	for _, o := range objs {
		if o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		var want rbacv1.ClusterRoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &want); err != nil {
			return lines, fmt.Errorf("ClusterRoleBinding %s: %w", o.GetName(), err)
		}
		bindings := cs.RbacV1().ClusterRoleBindings()
		got, err := bindings.Get(ctx, want.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return lines, fmt.Errorf("read ClusterRoleBinding %s: %w", want.Name, err)
		case got.RoleRef == want.RoleRef || !ours(got):
			continue
		}
		err = bindings.Delete(ctx, want.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &got.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return lines, fmt.Errorf("delete ClusterRoleBinding %s to re-create it with role %s: %w", want.Name, want.RoleRef.Name, err)
		}
		lines = append(lines, fmt.Sprintf("deleted ClusterRoleBinding %s: its role changes from %s to %s, which a binding cannot do in place",
			want.Name, got.RoleRef.Name, want.RoleRef.Name))
	}
	return lines, nil
}
