//! The deployment's steps on GitHub: the release a rollback goes to, the changelog PR's
//! approval, and the infrastructure PR with the deploy's Terraform changes.

use rhai::{Dynamic, Map};

use super::{field, Deployment};
use crate::error::HostResult;

impl Deployment {
    /// The release a rollback would go to: the newest published release of the app, unless
    /// production runs another image (a release whose run stopped before its bump, a manual
    /// change): then the image it runs, known to work. () when there is neither.
    pub fn last_stable(&self) -> HostResult<Dynamic> {
        let declared = &self.declared;
        let app = &declared.app;
        let stable = self.github.latest_release(&format!("{app}-"))?;
        let running = self.tf.get(&declared.tf_file(), &declared.image_key())?;
        let stable_map = stable.clone().try_cast::<Map>();
        if stable_map.is_none() && !running.is_string() {
            self.ctx.warn(&format!(
                "no published {app}- release: a rollback would have to be done by hand"
            ));
            return Ok(Dynamic::UNIT);
        }
        let running = running.to_string();
        if let Some(stable) = &stable_map {
            if field(stable, "rollback_tag") == running {
                self.ctx.ui.info(&format!(
                    "production runs {running}, the last published release ({})",
                    field(stable, "tag_name")
                ));
                return Ok(stable_map.map(Dynamic::from_map).unwrap_or_default());
            }
        }
        let newest = stable_map
            .as_ref()
            .map_or("none".to_string(), |s| field(s, "tag_name"));
        self.ctx.warn(&format!(
            "production runs {running}, not the last published release ({newest}): a rollback would go back to {running}"
        ));
        let mut image = Map::new();
        image.insert(
            "tag_name".into(),
            format!("the image production runs ({running})").into(),
        );
        image.insert("rollback_tag".into(), running.into());
        Ok(Dynamic::from_map(image))
    }

    /// Finds the changelog PR of `tag` and approves it after a confirmation. Approval failing
    /// (one's own PR) is a warning and a thing to do by hand: the deploy itself is done.
    pub fn approve_changelog(&self, tag: &str) -> HostResult<()> {
        let Some(pr) = self.github.changelog_pr(tag)?.try_cast::<Map>() else {
            self.ctx.warn(&format!(
                "no changelog PR for {tag} yet: approve \"Publish changelog for {tag}\" when it appears"
            ));
            self.ctx.by_hand(&format!(
                "approve the changelog PR \"Publish changelog for {tag}\" when it appears"
            ));
            return Ok(());
        };
        let number = pr
            .get("number")
            .and_then(|n| n.as_int().ok())
            .unwrap_or_default();
        self.ctx.ui.info(&format!(
            "#{number} {} {}",
            field(&pr, "title"),
            field(&pr, "html_url")
        ));
        if !crate::operator::ask_yes_no(&self.ctx, &format!("Approve #{number}?"))? {
            self.ctx
                .by_hand(&format!("approve the changelog PR #{number}"));
            return Ok(());
        }
        match self.github.approve_pr(number) {
            Ok(()) => self.ctx.ui.info(&format!("approved #{number}")),
            Err(e) if crate::diagnostic::is_interrupt(&e) => return Err(e),
            Err(e) => {
                self.ctx.warn(&format!(
                    "could not approve #{number}: {}",
                    crate::diagnostic::message_of(&e)
                ));
                self.ctx.by_hand(&format!(
                    "have someone else approve the changelog PR #{number}"
                ));
            }
        }
        Ok(())
    }

    /// Commits `files` of the infrastructure checkout on the branch `deploy/SERVICE-TAG`, pushes
    /// it and opens a PR (on `--resume`, what the earlier run made of it is adopted).
    pub fn open_infra_pr(&self, tag: &str, files: rhai::Array) -> HostResult<Dynamic> {
        let service = &self.declared.service;
        let branch = format!("deploy/{service}-{tag}");
        let title = format!("Deploy {service} {tag}");
        self.git.create_branch(&branch)?;
        self.git.commit(&title, files)?;
        self.git.push(&branch)?;
        let repo = self.github.infra_repo()?.to_string();
        let pr = self.github.open_pr(
            &repo,
            &branch,
            "main",
            &title,
            &format!(
                "The Terraform changes of the {service} deployment of {tag}, made with ovscript."
            ),
        )?;
        if let Some(url) = pr.read_lock::<Map>().map(|pr| field(&pr, "html_url")) {
            if !url.is_empty() {
                self.ctx.ui.info(&format!("opened {url}"));
                self.ctx.by_hand(&format!(
                    "get the infrastructure PR {url} reviewed and merged"
                ));
            }
        }
        Ok(pr)
    }
}
