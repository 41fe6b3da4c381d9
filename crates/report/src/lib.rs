//! ksafe-report: tables, plots and the HTML report. Filled by the judge/report issue; nothing
//! here yet.
