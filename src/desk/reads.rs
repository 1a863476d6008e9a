//! The desk's read side: one method per question the API, RDAP and the portal ask, so that
//! nothing outside `desk/` and `store/` holds a database handle. Each runs on a read
//! connection (see [`Desk::read_store`]); a method that answers from several tables reads them
//! on one connection, as the handlers did.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::{Desk, DeskError};
use crate::audit::{Checkpoint, Event as AuditEvent, EventQuery};
use crate::changelog::{Changelog, Month};
use crate::registry::{RootZone, TldLabel, TldRecord};
use crate::store::{
    CheckJob, Notification, RequestFilter, RequestSummary, SerialDiff, SweepSummary, TldDates,
    FINAL_STATES,
};
use crate::workflow::{CdsMode, Recorded};

/// A TLD's public page: its record, dates and its closed requests.
pub type TldPage = (TldRecord, TldDates, Vec<RequestSummary>);

/// A published root zone with its recorded ZONEMD digest.
pub type ZoneExport = (RootZone, Option<Vec<u8>>);

impl Desk {
    /// The serial of the newest publication, if any.
    pub fn current_serial(&self) -> Result<Option<u32>, DeskError> {
        self.read_store(|s| Ok(s.current_serial()?))
    }

    /// Every TLD record, by label.
    pub fn tlds(&self) -> Result<Vec<TldRecord>, DeskError> {
        self.read_store(|s| Ok(s.tlds()?))
    }

    /// Every TLD record, by label (the portal's cached statement).
    pub fn tld_rows(&self) -> Result<Vec<TldRecord>, DeskError> {
        self.read_store(|s| Ok(s.tld_rows()?))
    }

    /// The current serial and every TLD record, read on one connection.
    pub fn serial_and_tlds(&self) -> Result<(Option<u32>, Vec<TldRecord>), DeskError> {
        self.read_store(|s| {
            let tlds = s.tld_rows()?;
            Ok((s.current_serial()?, tlds))
        })
    }

    /// Whether the desk keeps a record of the TLD.
    pub fn tld_exists(&self, label: &TldLabel) -> Result<bool, DeskError> {
        self.read_store(|s| Ok(s.tld(label)?.is_some()))
    }

    /// A TLD's record with its CDS setting.
    pub fn tld_with_cds(
        &self,
        label: &TldLabel,
    ) -> Result<Option<(TldRecord, CdsMode)>, DeskError> {
        self.read_store(|s| {
            let cds = crate::store::tld_cds(s.conn(), label.as_str())?;
            Ok(s.tld(label)?.map(|r| (r, cds)))
        })
    }

    /// A TLD's record and its dates (RDAP's events); the first publication is looked up only
    /// when the record has no creation date.
    pub fn rdap_domain(
        &self,
        label: &TldLabel,
    ) -> Result<Option<(TldRecord, TldDates)>, DeskError> {
        self.read_store(|s| {
            let Some(record) = s.tld(label)? else {
                return Ok(None);
            };
            let dates = s.tld_dates(label, record.created.is_none())?;
            Ok(Some((record, dates)))
        })
    }

    /// A TLD's public page: record, dates and its newest 50 closed requests.
    pub fn tld_page(&self, label: &TldLabel) -> Result<Option<TldPage>, DeskError> {
        self.read_store(|s| {
            let Some(record) = s.tld(label)? else {
                return Ok(None);
            };
            let dates = s.tld_dates(label, record.created.is_none())?;
            let history = s.requests(&RequestFilter {
                tlds: Some(vec![label.as_str().to_string()]),
                states: FINAL_STATES.iter().map(|s| s.to_string()).collect(),
                limit: 50,
                ..Default::default()
            })?;
            Ok(Some((record, dates, history)))
        })
    }

    /// The root zone of a publication (the newest without `serial`) with its recorded ZONEMD
    /// digest.
    pub fn zone_export(&self, serial: Option<u32>) -> Result<Option<ZoneExport>, DeskError> {
        self.read_store(|s| {
            Ok(match s.zone(serial)? {
                Some(zone) => {
                    let recorded = s.recorded_digest(zone.soa.serial)?;
                    Some((zone, recorded))
                }
                None => None,
            })
        })
    }

    /// What changed per TLD between two serials.
    pub fn zone_diff(&self, from: u32, to: u32) -> Result<SerialDiff, DeskError> {
        self.read_store(|s| Ok(s.serial_diff(from, to)?))
    }

    /// A request's events and its check jobs (without reports). The caller has been granted
    /// the request already.
    pub fn request_history_and_checks(
        &self,
        ticket: &str,
    ) -> Result<(Vec<Recorded>, Vec<CheckJob>), DeskError> {
        self.read_store(|s| {
            Ok((
                s.request_history(ticket)?,
                s.checks_of(ticket)?
                    .into_iter()
                    .map(|(job, _)| job)
                    .collect(),
            ))
        })
    }

    /// A request's check jobs with their reports. The caller has been granted the request
    /// already.
    pub fn checks_of(
        &self,
        ticket: &str,
    ) -> Result<Vec<(CheckJob, Option<serde_json::Value>)>, DeskError> {
        self.read_store(|s| Ok(s.checks_of(ticket)?))
    }

    /// Audit events matching `query`. The caller has been granted the audit log already.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<AuditEvent>, DeskError> {
        self.read_store(|s| Ok(s.events(query)?))
    }

    /// Every signed checkpoint.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, DeskError> {
        self.read_store(|s| Ok(s.checkpoints(1, None)?))
    }

    /// The request and check metrics of `/metrics` as of the newest event.
    pub fn prometheus(&self) -> Result<String, DeskError> {
        self.read_store(|s| Ok(self.metrics_cache.prometheus(s, &self.service_levels)?))
    }

    /// The newest sweep and its count of TLDs per verdict.
    pub fn last_sweep_counts(
        &self,
    ) -> Result<(Option<SweepSummary>, BTreeMap<String, i64>), DeskError> {
        self.read_store(|s| {
            let last = s.last_sweep()?;
            let counts = match &last {
                Some(l) => s.sweep_counts(l.id)?,
                None => Default::default(),
            };
            Ok((last, counts))
        })
    }

    /// Up to `limit` notifications due for delivery at `now`, oldest first.
    pub fn outbox_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Notification>, DeskError> {
        self.read_store(|s| Ok(crate::store::due_notifications(s.conn(), now, limit)?))
    }

    /// The public change log of a month.
    pub fn changelog(&self, month: Month) -> Result<Changelog, DeskError> {
        self.read_store(|s| Ok(crate::changelog::build(s, month)?))
    }
}
