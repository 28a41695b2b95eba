//! The infrastructure checkout before and after the bump: on main, clean and as origin before
//! anything is bumped (a stale checkout applied would undo what others merged), and after the
//! bump naming exactly the image that was waited for.

use super::Deployment;
use crate::error::{host_error, HostResult};

impl Deployment {
    /// The checkout must be on main, clean and at origin's main; on `--resume`, the earlier run's
    /// changes are its own to go on with.
    pub fn check_checkout(&self) -> HostResult<()> {
        let git = &self.git;
        if let Some((earlier, true)) = self.ctx.earlier_run() {
            self.ctx.ui.info(&format!(
                "infrastructure checkout on {} at {}, as run {} left it",
                git.branch()?,
                head(git)?,
                earlier.run_id
            ));
            return Ok(());
        }
        let branch = git.branch()?;
        let changed = !git.read(&["status", "--short"])?.trim().is_empty();
        if branch != "main" || changed {
            return Err(host_error(format!(
                "the infrastructure checkout is on {branch}{}: run git checkout main && git pull there first. Nothing was changed.",
                if changed { " with uncommitted changes" } else { "" }
            )));
        }
        let head = head(git)?;
        let remote = git.remote_head("main")?;
        if !remote.is_unit() && remote.to_string() != head {
            return Err(host_error(format!(
                "the infrastructure checkout is at {head}, but origin's main is at {remote}: run git pull there first (applying a stale checkout would undo what others merged). Nothing was changed."
            )));
        }
        self.ctx.ui.info(&format!(
            "infrastructure checkout on main at {head}, as origin"
        ));
        Ok(())
    }

    /// The image tag of a release: its tag with the `{app}-` prefix replaced by `rel-`
    /// (`catalog-2024.05.02.10.00.00` -> `rel-2024.05.02.10.00.00`).
    pub fn image_tag(&self, release_tag: &str) -> String {
        image_tag(&self.declared.app, release_tag)
    }

    /// After the bump: the production `.tf` names the image of `release_tag`, the one waited
    /// for in the registry, and no other (a release published meanwhile).
    pub fn check_bump(&self, release_tag: &str) -> HostResult<()> {
        if self.ctx.dry_run {
            return Ok(()); // Nothing was bumped.
        }
        let declared = &self.declared;
        let wanted = self.image_tag(release_tag);
        let bumped = self.tf.get(&declared.tf_file(), &declared.image_key())?;
        if bumped.clone().into_string().ok().as_deref() != Some(wanted.as_str()) {
            return Err(host_error(format!(
                "the bump set {} = {}, not {wanted}, the image of {release_tag} that was checked in the registry (another release was published meanwhile?). Nothing was applied; restore {} (git checkout -- {}) and run the deploy again.",
                declared.image_key(),
                bumped,
                declared.tf_file(),
                declared.tf_file()
            )));
        }
        Ok(())
    }
}

fn head(git: &crate::git::Git) -> HostResult<String> {
    Ok(git.read(&["rev-parse", "HEAD"])?.trim().to_string())
}

/// `catalog-2024.05.02.10.00.00` of the app `catalog` -> `rel-2024.05.02.10.00.00`.
fn image_tag(app: &str, release_tag: &str) -> String {
    let prefix = format!("{app}-");
    format!(
        "rel-{}",
        release_tag.strip_prefix(&prefix).unwrap_or(release_tag)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_release_tag_becomes_its_image_tag() {
        assert_eq!(
            super::image_tag("catalog", "catalog-2024.05.02.10.00.00"),
            "rel-2024.05.02.10.00.00"
        );
        assert_eq!(
            super::image_tag("ingestion_server", "ingestion_server-2024.05.02.10.05.00"),
            "rel-2024.05.02.10.05.00"
        );
    }
}
