//! The release: the drafted one published after a confirmation (or, going on with a run that
//! died while GitHub was publishing, the one it published), then its `rel-` image waited for in
//! the registry before anything is bumped.

use rhai::Map;
use std::time::Duration;

use super::{field, Deployment};
use crate::error::{host_error, HostResult, WaitTimedOut};

/// How often the registry is asked for the release's image.
const IMAGE_POLL: Duration = Duration::from_secs(15);

impl Deployment {
    /// Shows the newest draft of the app, asks, publishes it; returns it as GitHub published it.
    pub fn publish_draft(&self) -> HostResult<Map> {
        let prefix = format!("{}-", self.declared.app);
        if let Some((earlier, true)) = self.ctx.earlier_run() {
            let published = self.github.published_since(&prefix, &earlier.started)?;
            if let Some(published) = published.try_cast::<Map>() {
                self.ctx.ui.info(&format!(
                    "{} was published at {}, after run {} began: going on with it",
                    field(&published, "tag_name"),
                    field(&published, "published_at"),
                    earlier.run_id
                ));
                return Ok(published);
            }
        }
        let Some(draft) = self.github.draft_release(&prefix)?.try_cast::<Map>() else {
            return Err(host_error(format!(
                "no draft release whose tag starts with \"{prefix}\": release-drafter makes one on every push to main; check the releases page. Nothing was changed."
            )));
        };
        let tag = field(&draft, "tag_name");
        self.ctx.ui.info(&format!(
            "{} ({tag}), drafted {}",
            field(&draft, "name"),
            field(&draft, "created_at")
        ));
        let notes = field(&draft, "body");
        if !notes.is_empty() {
            self.ctx.ui.info(&notes);
        }
        if !crate::operator::ask_yes_no(&self.ctx, &format!("Publish {tag}?"))? {
            return Err(host_error(format!(
                "stopped before publishing {tag}: nothing was changed"
            )));
        }
        let published = self.github.publish_release(&draft)?;
        let published_tag = field(&published, "tag_name");
        if published_tag != tag {
            self.ctx.by_hand(&format!(
                "look at the release {published_tag} on GitHub: it was published in place of {tag}"
            ));
            return Err(host_error(format!(
                "GitHub published {published_tag}, not {tag} as confirmed: release-drafter replaced the draft in between. Nothing was bumped or applied; look at the releases page, then run the deploy again to deploy what is published."
            )));
        }
        Ok(published)
    }

    /// "After the app is built and tagged": waits until the release's `rel-` image is in the
    /// registry, for up to the declared `image_timeout`; returns the image tag.
    pub fn wait_for_image(&self, release_tag: &str) -> HostResult<String> {
        let image = &self.declared.image;
        let tag = self.image_tag(release_tag);
        let limit = &self.declared.image_timeout;
        if self.ctx.dry_run {
            let there = self.registry.has_tag(image, &tag)?;
            self.ctx.ui.info(&format!(
                "{image}:{tag} {} in the registry; a real run waits up to {limit} for it",
                if there { "is" } else { "is not yet" }
            ));
            return Ok(tag);
        }
        let timeout = crate::when::parse_duration(limit).map_err(host_error)?;
        let mut problem = String::new();
        let waited = crate::operator::poll(
            &self.ctx,
            &format!("{image}:{tag} in the registry"),
            timeout,
            IMAGE_POLL,
            || match self.registry.has_tag(image, &tag) {
                Ok(there) => Ok(there),
                Err(e) if crate::diagnostic::is_interrupt(&e) => Err(e),
                Err(e) => {
                    problem = format!(
                        " (the registry could not be asked: {})",
                        crate::diagnostic::message_of(&e)
                    );
                    Ok(false)
                }
            },
        );
        match waited {
            Ok(_) => Ok(tag),
            Err(e) if WaitTimedOut::is(&e) => Err(host_error(format!(
                "the release {release_tag} is published, but its image {image}:{tag} is not in the registry after {limit}{problem}. Look at the release's run of \"tag_docker_image_and_trigger_deployment\" in the monorepo's Actions. Nothing was bumped or applied; when the image is there, go on with --resume."
            ))),
            Err(e) => Err(e),
        }
    }
}
