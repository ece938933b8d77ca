package images

import _ "embed"

// pauseSource is the pause program (pause/main.go), embedded so that an
// installed k8s-single builds the sandbox image without this repository.
//
//go:embed pause/main.go
var pauseSource []byte

// agentSource is the verify phase's workload (agent/main.go), embedded like
// pause.
//
//go:embed agent/main.go
var agentSource []byte
