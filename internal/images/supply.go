package images

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
)

// Supply makes the images a cluster runs present in containerd. An image
// containerd already holds (imported from runtime.imageBundle, pulled or
// built before) is left alone; a missing one is imported from the bundle when
// a tarball there carries it, else comes from where Mode (runtime.images) says:
//
//   - auto: pulled when its registry answers, else (or when the pull fails)
//     built from source when k8s-single has a recipe for it; k8s-single's own
//     images are built;
//   - pull: pulled; k8s-single's own images, which no registry serves, are built;
//   - bundle: nowhere; it is an error naming the bundle and how to fill it.
//
// The functions are the world Supply acts on, so its decisions are unit-tested
// without containerd, a registry or a Go toolchain.
type Supply struct {
	// Mode is runtime.images: auto, pull or bundle.
	Mode string
	// Bundle is runtime.imageBundle, "" when there is none.
	Bundle string
	// Present reports whether containerd holds ref.
	Present func(ref string) (bool, error)
	// FromBundle imports ref from the bundle when a tarball there carries it
	// (one put there after the runtime phase imported the bundle), and
	// reports whether one did.
	FromBundle func(ref string) (bool, error)
	// Answers returns nil when ref's registry answers, else why not
	// (RegistryAnswers).
	Answers func(ctx context.Context, ref string) error
	// Pull pulls ref into containerd.
	Pull func(ref string) error
	// Build builds imgs from source and imports them into containerd.
	Build func(ctx context.Context, imgs []Image) error
	// Printf prints one progress line.
	Printf func(format string, args ...any)
}

// MissingError is an image that no source of runtime.images could supply.
type MissingError struct {
	Ref string
	// Why says what was tried and what failed.
	Why string
	// Fix says what the user can do.
	Fix string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("image %s: %s; %s", e.Ref, e.Why, e.Fix)
}

// Ensure makes each of imgs present in containerd, building the ones it must
// build together at the end. Every image that cannot be supplied is named in
// the error (each a *MissingError), after the others were supplied.
func (s Supply) Ensure(ctx context.Context, imgs []Image) error {
	var build []Image
	var errs []error
	answers := map[string]error{} // a registry is asked once
	for _, img := range imgs {
		ok, err := s.Present(img.Ref)
		if err == nil && !ok {
			ok, err = s.FromBundle(img.Ref)
		}
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		switch {
		case s.Mode == config.ImagesBundle:
			errs = append(errs, s.missing(img, "runtime.images is bundle and the bundle "+s.Bundle+" does not hold it"))
		case img.Own() && !img.Buildable():
			errs = append(errs, s.missing(img, "no registry serves k8s-single's own images and this one has no recipe here"))
		case img.Own():
			s.Printf("%s: k8s-single's own image, which no registry serves: building it from source", img.Ref)
			build = append(build, img)
		case s.Mode == config.ImagesPull:
			s.Printf("pulling %s (runtime.images is pull)", img.Ref)
			if err := s.Pull(img.Ref); err != nil {
				errs = append(errs, s.missing(img, "runtime.images is pull and the pull failed: "+err.Error()))
			}
		default:
			reg := registryOf(img.Ref)
			why, asked := answers[reg]
			if !asked {
				why = s.Answers(ctx, img.Ref)
				answers[reg] = why
			}
			if why == nil {
				s.Printf("pulling %s (its registry answers)", img.Ref)
				if why = s.Pull(img.Ref); why == nil {
					continue
				}
			}
			if !img.Buildable() {
				errs = append(errs, s.missing(img, fmt.Sprintf("it can be neither pulled (%v) nor built (k8s-single has no recipe for it)", why)))
				continue
			}
			s.Printf("%s: not pulled (%v): building it from source", img.Ref, why)
			build = append(build, img)
		}
	}
	if len(build) > 0 {
		if err := s.Build(ctx, build); err != nil {
			refs := make([]string, len(build))
			for i, img := range build {
				refs[i] = img.Ref
			}
			errs = append(errs, fmt.Errorf("build %s from source: %w; %s", strings.Join(refs, ", "), err, s.fillBundle(build[0])))
		}
	}
	return errors.Join(errs...)
}

func (s Supply) missing(img Image, why string) *MissingError {
	return &MissingError{Ref: img.Ref, Why: why, Fix: s.fillBundle(img)}
}

// fillBundle says how to give containerd img without a registry: its
// tarball in the bundle, built by k8s-single when it has a recipe, else
// saved on a machine that can pull it.
func (s Supply) fillBundle(img Image) string {
	dir := s.Bundle
	if dir == "" {
		dir = "DIR"
	}
	how := "`k8s-single images build --out " + dir + "` builds it on a machine with Go"
	if !img.Buildable() {
		how = "on a machine that can pull it: `ctr images pull " + img.Ref + " && ctr images export " + dir + "/" + img.Name + ".tar " + img.Ref + "`"
	}
	fix := "put its tarball into the image bundle " + dir + " (" + how
	if s.Bundle == "" {
		fix += "; then set runtime.imageBundle: " + dir
	}
	return fix + ") and run `k8s-single up` again"
}
