package dashboard

import (
	"context"
	"fmt"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// MinTokenDuration is the shortest token the TokenRequest API issues.
const MinTokenDuration = 10 * time.Minute

// Token mints a token for dashboard-admin with the TokenRequest API (what
// `kubectl create token` does), valid for d unless the apiserver caps it
// (--service-account-max-token-expiration). It returns the token and when it
// expires. Nothing stores the token: it dies on its own.
func Token(ctx context.Context, cs kubernetes.Interface, ui UI, d time.Duration) (string, time.Time, error) {
	if d < MinTokenDuration {
		return "", time.Time{}, fmt.Errorf("a token must live at least %s (the TokenRequest API's minimum); got %s", MinTokenDuration, d)
	}
	req := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(d.Seconds()))}}
	got, err := cs.CoreV1().ServiceAccounts(ui.Namespace).CreateToken(ctx, AdminServiceAccount, req, metav1.CreateOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("mint a token for %s/%s: %w; is the dashboard installed? run `k8s-single phase run dashboard`",
			ui.Namespace, AdminServiceAccount, err)
	}
	return got.Status.Token, got.Status.ExpirationTimestamp.Time, nil
}

// LongLivedSecret holds dashboard-admin's long-lived token, made only on
// request (dashboard token --long-lived).
const LongLivedSecret = "dashboard-admin-token"

// LongLivedToken creates, or reuses, the kubernetes.io/service-account-token
// Secret of dashboard-admin and returns its token once the token controller
// has filled it in, waiting up to timeout. The token never expires: deleting
// the Secret revokes it.
func LongLivedToken(ctx context.Context, cs kubernetes.Interface, ui UI, timeout time.Duration) (string, error) {
	secrets := cs.CoreV1().Secrets(ui.Namespace)
	s := &corev1.Secret{ObjectMeta: objectMeta(LongLivedSecret, ui.Namespace, nil), Type: corev1.SecretTypeServiceAccountToken}
	s.Annotations = map[string]string{corev1.ServiceAccountNameKey: AdminServiceAccount}
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("create Secret %s/%s: %w; is the dashboard installed? run `k8s-single phase run dashboard`", ui.Namespace, LongLivedSecret, err)
	}
	var token string
	_, err := poll.Wait{What: "the token of Secret " + ui.Namespace + "/" + LongLivedSecret, Timeout: timeout, Interval: 500 * time.Millisecond,
		Expired: func(string) error {
			return fmt.Errorf("the Secret %s/%s has no token after %s: the token controller of kube-controller-manager fills it in; check `systemctl status kube-controller-manager`",
				ui.Namespace, LongLivedSecret, timeout)
		},
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		got, err := secrets.Get(ctx, LongLivedSecret, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		token = string(got.Data[corev1.ServiceAccountTokenKey])
		return token != "", "no token yet", nil
	})
	return token, err
}

// TokenClient is a client of the cluster a kubeconfig (admin.conf) points
// at, trusting the same CA, but authenticating with token instead of the
// kubeconfig's own credentials.
func TokenClient(kubeconfigPath, token string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfigPath, err)
	}
	cfg = rest.AnonymousClientConfig(cfg)
	cfg.BearerToken = token
	cfg.UserAgent = "k8s-single"
	return kubernetes.NewForConfig(cfg)
}

// Access is what the apiserver says of a token.
type Access struct {
	// User is who the apiserver authenticated (kubectl auth whoami).
	User string
	// ListPods reports whether the token may list pods in every namespace
	// (kubectl auth can-i list pods -A): what a dashboard shows first.
	ListPods bool
}

// CheckToken asks the apiserver, through a client that authenticates with
// the token (TokenClient), who it is (a SelfSubjectReview) and whether it may
// list pods in all namespaces (a SelfSubjectAccessReview).
func CheckToken(ctx context.Context, cs kubernetes.Interface) (Access, error) {
	who, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return Access{}, fmt.Errorf("the apiserver did not accept the token (kubectl auth whoami): %w", err)
	}
	review := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authzv1.ResourceAttributes{Verb: "list", Resource: "pods"},
	}}
	can, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return Access{}, fmt.Errorf("ask whether the token may list pods in all namespaces (kubectl auth can-i list pods -A): %w", err)
	}
	return Access{User: who.Status.UserInfo.Username, ListPods: can.Status.Allowed}, nil
}

// AdminUser is the user name the apiserver gives ui's dashboard-admin tokens.
func AdminUser(ui UI) string {
	return "system:serviceaccount:" + ui.Namespace + ":" + AdminServiceAccount
}
