package images

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// registryTimeout bounds asking a registry whether it answers: on a host
// without one, its name does not resolve or the connection is refused at once.
const registryTimeout = 5 * time.Second

// registryOf is the registry ref names ("index.docker.io" for Docker Hub),
// or ref itself when it does not parse.
func registryOf(ref string) string {
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref
	}
	return r.Context().RegistryStr()
}

// RegistryAnswers returns nil when the registry of ref answers its API's
// base URL (GET /v2/; any HTTP status, 401 included, is an answer), through
// the environment's proxy, else why not: the name does not resolve, the
// connection is refused or times out.
func RegistryAnswers(ctx context.Context, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	reg := r.Context().Registry
	url := reg.Scheme() + "://" + reg.RegistryStr() + "/v2/"
	ctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("registry %s does not answer: %w", reg.RegistryStr(), err)
	}
	return resp.Body.Close()
}
