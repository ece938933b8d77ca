package images

import _ "embed"

// DashboardStandInName is the stand-in's image name, and its tarball's in a bundle.
const DashboardStandInName = "dashboard-standin"

// standInSource is the dashboard stand-in (standin/main.go), embedded like pause.
//
//go:embed standin/main.go
var standInSource []byte

// DashboardStandIn is a TEST-ONLY image that stands in for the dashboard UIs
// where their images cannot be pulled: a static HTTPS server that takes
// Headlamp's and the Kubernetes Dashboard's TLS flags and, like them, calls
// the apiserver with the token a user gives it (see standin/main.go). Its
// reference, k8s-single.local/dashboard-standin:src-<digest of its source>,
// names no upstream image, so it cannot be mistaken for a real UI. It is not
// among the Required images: a test builds it into a bundle with Build and
// sets its reference as dashboard.image.
func DashboardStandIn() Image {
	img := embeddedImage(DashboardStandInName, "", standInSource, "65534")
	img.Ref = "k8s-single.local/" + DashboardStandInName + ":" + img.Version
	return img
}
