package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// march15 is the day most fixtures are decided on, at noon in China.
var march15 = time.Date(2026, time.March, 15, 12, 0, 0, 0, chinaStandardTime)

func day(s string) contracts.Date {
	d, err := contracts.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// agreement51to44 is a province-level Sichuan -> Guangdong agreement covering
// every record type, with ID numbers in clear for the purposes that need them.
func agreement51to44() contracts.Agreement {
	return contracts.Agreement{
		Schema:      contracts.SchemaAgreement,
		ID:          "AG-51-44-2026-001",
		Version:     2,
		Title:       "川粤劳务协作协议",
		Origin:      contracts.Party{Division: "510000", Name: "四川省人力资源和社会保障厅"},
		Destination: contracts.Party{Division: "440000", Name: "广东省人力资源和社会保障厅"},
		ValidFrom:   day("2026-01-01"),
		ValidUntil:  day("2026-12-31"),
		Status:      contracts.AgreementActive,
		Scope: []contracts.ScopeRule{
			{
				RecordType: contracts.RecordTransfer,
				Purposes: []contracts.Purpose{contracts.PurposeEmploymentService, contracts.PurposeRightsProtection,
					contracts.PurposeTrainingSubsidy, contracts.PurposeStatistics},
				Fields: []string{"worker", "training", "organizer", "placement", "events"},
				Clear:  []string{"worker.id_number"},
			},
			{
				RecordType: contracts.RecordConfirmation,
				Purposes:   []contracts.Purpose{contracts.PurposeEmploymentConfirmation, contracts.PurposeTrainingSubsidy},
				Fields:     []string{"transfer_id", "worker_id_number", "employed", "since", "employer_name", "months_employed", "confirmed_on"},
				Clear:      []string{"worker_id_number"},
			},
			{
				RecordType: contracts.RecordReferral,
				Purposes:   []contracts.Purpose{contracts.PurposeRightsProtection},
				Fields:     []string{"kind", "worker", "employer", "amount_owed_fen", "status", "deadline", "arbitration_fee_waived", "opened_at"},
				Clear:      []string{"worker.id_number", "worker.phone"},
			},
			{
				RecordType: contracts.RecordReferralUpdate,
				Purposes:   []contracts.Purpose{contracts.PurposeRightsProtection},
				Fields:     []string{"referral_id", "status", "note", "amount_recovered_fen", "at"},
			},
		},
		Quotas: []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaMonth, Max: 1000}},
	}
}

func header(schema, from, to string, purpose contracts.Purpose) contracts.Header {
	return contracts.Header{Schema: schema, ID: "R-1", From: from, To: to, AgreementID: "AG-51-44-2026-001", Purpose: purpose}
}

// transfer51to44 is a worker from Yingshan county (511321) placed in
// Shenzhen's Nanshan district (440305).
func transfer51to44() *contracts.Transfer {
	return &contracts.Transfer{
		Header: header(contracts.SchemaTransfer, "51", "44", contracts.PurposeEmploymentService),
		Worker: contracts.Worker{
			Name: "张三丰", IDNumber: "511321199001011234", Sex: contracts.SexMale, BirthDate: day("1990-01-01"),
			Phone: "13812345678", HouseholdDivision: "511321",
		},
		Training: &contracts.Training{
			Institution: "营山县职业技能培训学校", Programme: "电工", Hours: 120,
			Certificate: &contracts.Certificate{Number: "CERT-0001", SkillLevel: 4},
		},
		Organizer: contracts.Organizer{Kind: contracts.OrganizerPublicEmploymentService, Name: "营山县公共就业服务中心"},
		Placement: contracts.Placement{
			EmployerName: "深圳市某电子有限公司", EmployerCreditCode: "91440300MA5EXAMPLE", Industry: "C3971", Job: "电工",
			Division: "440305", ContractStart: day("2026-03-01"), MonthlyWageFen: 650000,
		},
		LaborBrand: "川妹子家政",
		Events:     []contracts.LifecycleEvent{{Kind: contracts.EventRegistered, At: march15}},
	}
}

// confirmation44to51 answers transfer51to44.
func confirmation44to51() *contracts.Confirmation {
	since := day("2026-03-01")
	return &contracts.Confirmation{
		Header:             header(contracts.SchemaConfirmation, "44", "51", contracts.PurposeEmploymentConfirmation),
		TransferID:         "R-1",
		WorkerIDNumber:     "511321199001011234",
		Employed:           true,
		Since:              &since,
		EmployerName:       "深圳市某电子有限公司",
		EmployerCreditCode: "91440300MA5EXAMPLE",
		MonthsEmployed:     1,
		ConfirmedOn:        day("2026-03-14"),
	}
}

// referral is a wage-arrears case about the transfer's worker and employer.
func referral(from, to string) *contracts.Referral {
	return &contracts.Referral{
		Header:   header(contracts.SchemaReferral, from, to, contracts.PurposeRightsProtection),
		Kind:     contracts.CaseWageArrears,
		Worker:   contracts.ReferralWorker{Name: "张三丰", IDNumber: "511321199001011234", Phone: "13812345678", HouseholdDivision: "511321"},
		Employer: contracts.Employer{Name: "深圳市某电子有限公司", CreditCode: "91440300MA5EXAMPLE", Division: "440305"},
		Status:   contracts.CaseReferred, AmountOwedFen: 1200000, Deadline: day("2026-04-15"),
		Notes: "拖欠三个月工资", OpenedAt: march15,
	}
}

func referralUpdate(from, to string) *contracts.ReferralUpdate {
	return &contracts.ReferralUpdate{
		Header:     header(contracts.SchemaReferralUpdate, from, to, contracts.PurposeRightsProtection),
		ReferralID: "R-0", Status: contracts.CaseAccepted, Note: "已受理", At: march15,
	}
}

// provincePolicy is a Sichuan province layer: no transfer leaves for
// statistics, and birth dates stay home. It also refuses imports from nodes of
// province 99, a stand-in for any peer a province chooses not to trust.
const provincePolicy = `package laborlink.province

deny contains {"code": "no_statistics_export", "message": "Sichuan does not export transfers for statistics"} if {
	input.side == "export"
	input.record_type == "transfer"
	input.purpose == "statistics"
}

deny contains "imports from p99 are refused" if {
	input.side == "import"
	startswith(input.peer, "spiffe://p99.")
}

obligations["placement.monthly_wage_fen"] := {"action": "drop", "code": "province_wage"} if input.side == "export"
`

// writeProvince writes Rego files into a fresh directory and returns it.
func writeProvince(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newEngine builds an engine with the shipped bundle and a fixed clock.
func newEngine(t testing.TB, provinceDir string, cacheSize int) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), FederationBundle(), Config{
		ProvinceDir: provinceDir,
		CacheSize:   cacheSize,
		Now:         func() time.Time { return march15 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func writeAtomically(dir, name, src string) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}
