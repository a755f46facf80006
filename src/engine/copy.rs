//! All-or-nothing `COPY ... TO`.
//!
//! DataFusion writes COPY output straight to its destination, so a query that
//! fails half way leaves partial files behind. wasql points the write at a
//! hidden staging directory beside the destination (`.wasql-copy-<id>/`) and
//! moves the files into place only when the whole query has succeeded. On
//! failure or cancellation the staging directory is removed.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::context::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// A COPY destination redirected to a staging directory.
pub struct CopyStaging {
    store: Arc<dyn ObjectStore>,
    /// The staging directory inside the store.
    staging_dir: Path,
    /// The directory the staged files move to.
    final_dir: Path,
    /// The staging directory on the local file system, for clean-up.
    local_dir: Option<std::path::PathBuf>,
    /// Committed or discarded: nothing left to clean up.
    settled: bool,
}

impl CopyStaging {
    /// Plans the staging of `output_url` and checks that the destination can
    /// be written (before any query runs); returns the staging and the URL
    /// the COPY should write to instead.
    pub async fn new(ctx: &SessionContext, output_url: &str) -> Result<(CopyStaging, String)> {
        let target = ListingTableUrl::parse(output_url)?;
        let url = target.as_str();
        // Split `scheme://bucket/dir/` from the last path segment (a file
        // name, or a directory name with a trailing slash).
        let trimmed = url.trim_end_matches('/');
        let split = trimmed.rfind('/').map(|i| i + 1).unwrap_or(trimmed.len());
        let (parent, leaf) = url.split_at(split);
        let staging_name = format!(".wasql-copy-{}", uuid::Uuid::new_v4().simple());
        let staged_url = format!("{parent}{staging_name}/{leaf}");

        let staging = ListingTableUrl::parse(format!("{parent}{staging_name}/"))?;
        let final_dir = ListingTableUrl::parse(parent)?;
        let store = ctx.runtime_env().object_store(target.object_store())?;
        let local_dir = (staging.scheme() == "file")
            .then(|| url::Url::parse(staging.as_str()).ok()?.to_file_path().ok())
            .flatten();
        let staging = CopyStaging {
            store,
            staging_dir: staging.prefix().clone(),
            final_dir: final_dir.prefix().clone(),
            local_dir,
            settled: false,
        };
        staging.probe().await.map_err(|e| {
            DataFusionError::Execution(format!("cannot write to '{output_url}': {e}"))
        })?;
        Ok((staging, staged_url))
    }

    /// Writes and removes an empty object in the staging directory, so that
    /// a destination that cannot be written fails before the query runs,
    /// with the store's own reason.
    async fn probe(&self) -> object_store::Result<()> {
        let marker = self.staging_dir.clone().join(".probe");
        self.store.put(&marker, PutPayload::new()).await?;
        self.store.delete(&marker).await
    }

    /// Moves every staged file to its final place.
    pub async fn commit(mut self) -> Result<()> {
        let staged: Vec<_> = self
            .store
            .list(Some(&self.staging_dir))
            .try_collect()
            .await?;
        let depth = self.staging_dir.parts().count();
        for object in staged {
            let relative = object.location.parts().skip(depth);
            let destination: Path = self.final_dir.parts().chain(relative).collect();
            self.store.rename(&object.location, &destination).await?;
        }
        self.settled = true;
        self.remove_local_dir();
        Ok(())
    }

    /// Removes everything staged; used when the COPY failed.
    pub async fn discard(mut self) {
        self.settled = true;
        match self.local_dir {
            Some(_) => self.remove_local_dir(),
            None => delete_all(&self.store, &self.staging_dir).await,
        }
    }

    fn remove_local_dir(&self) {
        if let Some(dir) = &self.local_dir {
            // Best effort: the directory may never have been created.
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Deletes every object under `prefix`, best effort.
async fn delete_all(store: &Arc<dyn ObjectStore>, prefix: &Path) {
    let locations = store
        .list(Some(prefix))
        .map_ok(|meta| meta.location)
        .boxed();
    let _ = store.delete_stream(locations).try_collect::<Vec<_>>().await;
}

/// A COPY dropped before it settled (e.g. cancelled with Ctrl-C) cleans up
/// after itself: at once on local disk, in the background elsewhere.
impl Drop for CopyStaging {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if self.local_dir.is_some() {
            self.remove_local_dir();
        } else if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = Arc::clone(&self.store);
            let prefix = self.staging_dir.clone();
            runtime.spawn(async move { delete_all(&store, &prefix).await });
        }
    }
}
