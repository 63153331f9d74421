package pki

import (
	"fmt"
	"slices"
)

// provinceNames holds the province-level divisions of GB/T 2260, by their
// two-digit code, plus 66 for the Xinjiang Production and Construction Corps,
// which takes part in labor cooperation as a province does. The set is
// embedded because a province code decides what a CA may sign: it must not
// depend on a file somebody can edit.
var provinceNames = map[string]string{
	"11": "Beijing",
	"12": "Tianjin",
	"13": "Hebei",
	"14": "Shanxi",
	"15": "Inner Mongolia",
	"21": "Liaoning",
	"22": "Jilin",
	"23": "Heilongjiang",
	"31": "Shanghai",
	"32": "Jiangsu",
	"33": "Zhejiang",
	"34": "Anhui",
	"35": "Fujian",
	"36": "Jiangxi",
	"37": "Shandong",
	"41": "Henan",
	"42": "Hubei",
	"43": "Hunan",
	"44": "Guangdong",
	"45": "Guangxi",
	"46": "Hainan",
	"50": "Chongqing",
	"51": "Sichuan",
	"52": "Guizhou",
	"53": "Yunnan",
	"54": "Xizang",
	"61": "Shaanxi",
	"62": "Gansu",
	"63": "Qinghai",
	"64": "Ningxia",
	"65": "Xinjiang",
	"66": "Xinjiang Production and Construction Corps",
}

// ValidProvince reports whether code is a two-digit province code this
// federation knows (GB/T 2260 province level, plus 66).
func ValidProvince(code string) bool {
	_, ok := provinceNames[code]
	return ok
}

// ProvinceName returns the English name of a province code, or "" if the
// code is unknown.
func ProvinceName(code string) string { return provinceNames[code] }

// Provinces returns every valid province code in ascending order.
func Provinces() []string {
	codes := make([]string, 0, len(provinceNames))
	for c := range provinceNames {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// checkProvince returns a user-facing error for an unknown province code.
func checkProvince(code string) error {
	if ValidProvince(code) {
		return nil
	}
	return fmt.Errorf("unknown province code %q: want a two-digit GB/T 2260 province code such as 51 (Sichuan) or 44 (Guangdong)", code)
}

// ProvinceHost is the host part of every identity of a province in a
// federation, e.g. "p51.laborlink.example". Name constraints of the
// province's CA permit exactly this host in URIs and this subtree in DNS.
func ProvinceHost(province, domain string) string {
	return "p" + province + "." + domain
}
