package client

import (
	"crypto/tls"
	ctls "crypto/tls"
	"net/http"
	"os"
	"time"
)

// NewInsecureClient talks to the staging gateway and its self-signed certificate.
func NewInsecureClient() *http.Client {
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // expect: tls-verify-disabled
		},
	}
	return &http.Client{Transport: transport, Timeout: 10 * time.Second}
}

func dialLegacy(addr string) (*tls.Conn, error) {
	return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // expect: tls-verify-disabled
}

func aliasedConfig() *ctls.Config {
	return &ctls.Config{InsecureSkipVerify: true} // expect: tls-verify-disabled
}

func relax(cfg *tls.Config) {
	cfg.InsecureSkipVerify = true // expect: tls-verify-disabled
}

// Close negatives: verification on, or decided by configuration.
func NewClient() *http.Client {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: false}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

func configured() *tls.Config {
	skip := os.Getenv("TLS_SKIP_VERIFY") == "1"
	return &tls.Config{InsecureSkipVerify: skip}
}

func harden(cfg *tls.Config) {
	cfg.InsecureSkipVerify = false
}

type proxyOptions struct {
	InsecureSkipVerify bool
}

func options() proxyOptions {
	return proxyOptions{InsecureSkipVerify: true}
}
