// Command floor is the least a monitoring-token run must do, for
// bench/wholerun to compare against: read the key named by
// MONITORING_SIGNER_KEY, sign one token for MACHINE, make one GET of
// LOCATE_URL+"ndt/ndt7", put the ndt7 download URL in MONITORING_URL, run
// os.Args[1:] and exit with its status. No flags, no retries, no timeouts.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"time"

	"github.com/monitoring-token/monitoring-token/token"
)

// urlKey is the ndt7 download URL in locate's answer.
const urlKey = "wss:///ndt/v7/download"

func main() {
	u, err := serviceURL()
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(125)
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "floor: no command")
		os.Exit(125)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Env = append(os.Environ(), "MONITORING_URL="+u)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(127)
	}
}

// serviceURL signs a token and asks locate for the ndt7 download URL.
func serviceURL() (string, error) {
	jwk, err := os.ReadFile(os.Getenv("MONITORING_SIGNER_KEY"))
	if err != nil {
		return "", err
	}
	signer, err := token.NewSigner(jwk)
	if err != nil {
		return "", err
	}
	tok, err := signer.Sign(os.Getenv("MACHINE"), time.Now().Add(time.Minute))
	if err != nil {
		return "", err
	}
	resp, err := http.Get(os.Getenv("LOCATE_URL") + "ndt/ndt7?access_token=" + url.QueryEscape(tok))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Results []struct {
			URLs map[string]string `json:"urls"`
		} `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return "", fmt.Errorf("locate answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if len(answer.Results) == 0 || answer.Results[0].URLs[urlKey] == "" {
		return "", fmt.Errorf("locate answer (HTTP %d) has no %s", resp.StatusCode, urlKey)
	}
	return answer.Results[0].URLs[urlKey], nil
}
