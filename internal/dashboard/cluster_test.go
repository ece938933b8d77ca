package dashboard

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/k8s-single/k8s-single/internal/kube"
)

var ourLabels = map[string]string{labelManagedBy: kube.FieldManager}

func binding(name, role string, labels map[string]string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
}

func ns(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// TestRemove removes k8s-single's Headlamp and keeps a Kubernetes Dashboard
// the user installed by hand.
func TestRemove(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(
		ns("headlamp", ourLabels), binding("headlamp", "view", ourLabels), binding("headlamp:dashboard-admin", "cluster-admin", ourLabels),
		ns("kubernetes-dashboard", nil), binding("kubernetes-dashboard", "kubernetes-dashboard", nil),
		binding("unrelated", "view", ourLabels),
	)
	lines, err := Remove(ctx, cs, mustUI(t, Headlamp))
	want := []string{"deleted Namespace headlamp", "deleted ClusterRoleBinding headlamp", "deleted ClusterRoleBinding headlamp:dashboard-admin"}
	if err != nil || !slices.Equal(lines, want) {
		t.Errorf("Remove(headlamp) = %q, %v; want %q", lines, err, want)
	}
	lines, err = Remove(ctx, cs, mustUI(t, KubernetesDashboard))
	if err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "kept Namespace kubernetes-dashboard") || !strings.HasPrefix(lines[1], "kept ClusterRoleBinding kubernetes-dashboard") {
		t.Errorf("Remove(kubernetes-dashboard) = %q, %v; want both hand-made objects kept", lines, err)
	}
	left, _ := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	var names []string
	for _, b := range left.Items {
		names = append(names, b.Name)
	}
	if !slices.Equal(names, []string{"kubernetes-dashboard", "unrelated"}) {
		t.Errorf("bindings left: %q", names)
	}
	for _, ui := range UIs() {
		if gone, state, err := Gone(ctx, cs, ui); !gone || err != nil {
			t.Errorf("Gone(%s) = %v, %q, %v; want gone (deleted, or never ours)", ui.Kind, gone, state, err)
		}
	}
	if lines, err := Remove(ctx, cs, mustUI(t, Headlamp)); err != nil || len(lines) != 0 {
		t.Errorf("a second Remove = %q, %v; want nothing to do", lines, err)
	}
}

func TestGoneWaitsForATerminatingNamespace(t *testing.T) {
	terminating := ns("headlamp", ourLabels)
	terminating.Status.Phase = corev1.NamespaceTerminating
	gone, state, err := Gone(context.Background(), fake.NewClientset(terminating), mustUI(t, Headlamp))
	if gone || err != nil || state != "namespace headlamp is Terminating" {
		t.Errorf("Gone = %v, %q, %v; want to wait", gone, state, err)
	}
}

func TestDropChangedBindings(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(
		binding("headlamp:dashboard-admin", "cluster-admin", ourLabels),
		binding("headlamp", "edit", nil), // a user's own: the apply reports the conflict
	)
	p := testParams
	p.AdminClusterRole = "view"
	objs, err := mustUI(t, Headlamp).Objects(p)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := DropChangedBindings(ctx, cs, objs)
	if err != nil || len(lines) != 1 || !strings.Contains(lines[0], "headlamp:dashboard-admin: its role changes from cluster-admin to view") {
		t.Errorf("DropChangedBindings = %q, %v", lines, err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "headlamp:dashboard-admin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the changed binding is still there: %v", err)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "headlamp", metav1.GetOptions{}); err != nil {
		t.Errorf("the user's binding was deleted: %v", err)
	}
	if lines, err := DropChangedBindings(ctx, cs, objs); err != nil || len(lines) != 0 {
		t.Errorf("nothing changed, yet %q, %v", lines, err)
	}
}

func TestToken(t *testing.T) {
	ui := mustUI(t, Headlamp)
	expires := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	cs := fake.NewClientset()
	cs.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		create := a.(k8stesting.CreateActionImpl)
		req := create.Object.(*authnv1.TokenRequest)
		if a.GetSubresource() != "token" || a.GetNamespace() != ui.Namespace || create.Name != AdminServiceAccount || *req.Spec.ExpirationSeconds != 3600 {
			t.Errorf("token request %s/%s/%s for %ds", a.GetNamespace(), create.Name, a.GetSubresource(), *req.Spec.ExpirationSeconds)
		}
		return true, &authnv1.TokenRequest{Status: authnv1.TokenRequestStatus{Token: "minted", ExpirationTimestamp: expires}}, nil
	})
	token, exp, err := Token(context.Background(), cs, ui, time.Hour)
	if err != nil || token != "minted" || !exp.Equal(expires.Time) {
		t.Errorf("Token = %q, %s, %v", token, exp, err)
	}
	if _, _, err := Token(context.Background(), cs, ui, time.Minute); err == nil || !strings.Contains(err.Error(), "at least 10m") {
		t.Errorf("a 1m token: %v, want the TokenRequest minimum named", err)
	}
}

func TestLongLivedToken(t *testing.T) {
	ui := mustUI(t, KubernetesDashboard)
	cs := fake.NewClientset()
	// The token controller: fills in the token of a service-account-token Secret.
	cs.PrependReactor("create", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*corev1.Secret)
		if s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountNameKey] == AdminServiceAccount {
			s.Data = map[string][]byte{corev1.ServiceAccountTokenKey: []byte("forever")}
		}
		return false, nil, nil
	})
	for range 2 { // the second call reuses the Secret
		token, err := LongLivedToken(context.Background(), cs, ui, time.Second)
		if err != nil || token != "forever" {
			t.Fatalf("LongLivedToken = %q, %v", token, err)
		}
	}
	_, err := LongLivedToken(context.Background(), fake.NewClientset(), ui, 600*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "kube-controller-manager") {
		t.Errorf("without a token controller: %v, want an error naming it", err)
	}
}

func TestCheckToken(t *testing.T) {
	ui := mustUI(t, Headlamp)
	for _, allowed := range []bool{true, false} {
		cs := fake.NewClientset()
		cs.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, &authnv1.SelfSubjectReview{Status: authnv1.SelfSubjectReviewStatus{UserInfo: authnv1.UserInfo{Username: AdminUser(ui)}}}, nil
		})
		cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
			r := a.(k8stesting.CreateAction).GetObject().(*authzv1.SelfSubjectAccessReview)
			if ra := r.Spec.ResourceAttributes; ra.Verb != "list" || ra.Resource != "pods" || ra.Namespace != "" {
				t.Errorf("asked %+v, want list pods in all namespaces", ra)
			}
			r.Status.Allowed = allowed
			return true, r, nil
		})
		access, err := CheckToken(context.Background(), cs)
		if err != nil || access.User != "system:serviceaccount:headlamp:dashboard-admin" || access.ListPods != allowed {
			t.Errorf("CheckToken = %+v, %v; want the admin user, list pods %v", access, err, allowed)
		}
	}
}

func TestNodePortOf(t *testing.T) {
	ui := mustUI(t, Headlamp)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: ui.Service, Namespace: ui.Namespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "metrics", NodePort: 30001}, {Name: httpsPortName, NodePort: NodePort}}}}
	if port, err := NodePortOf(context.Background(), fake.NewClientset(svc), ui); err != nil || port != NodePort {
		t.Errorf("NodePortOf = %d, %v", port, err)
	}
	if _, err := NodePortOf(context.Background(), fake.NewClientset(), ui); err == nil || !strings.Contains(err.Error(), "phase run dashboard") {
		t.Errorf("without the Service: %v, want a hint to run the phase", err)
	}
}
