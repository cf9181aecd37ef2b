//! Contracts of per-workspace model catalogs (seed 003, issue 3), one test per contract.

use std::collections::BTreeMap;
use std::sync::Arc;

use modelgates::*;

fn setup() -> (ModelGates, Caller) {
    let gates = ModelGates::open(MemoryStore::new()).unwrap();
    let admin = gates.default_caller().unwrap();
    let new = NewWorkspace {
        name: "P".into(),
        slug: "p".into(),
        ..Default::default()
    };
    gates.workspace_create(&admin, new).unwrap();
    (gates, admin)
}

fn all() -> Page {
    Page::new(None, Some(100)).unwrap()
}

fn list(g: &ModelGates, c: &Caller, filter: ModelFilter) -> Paged<Model> {
    g.model_list(c, "p", &filter, all()).unwrap()
}

fn set_default(g: &ModelGates, c: &Caller, model: &str) -> Result<Workspace> {
    let patch = WorkspacePatch {
        default_text_model: Patch::Set(model.into()),
        ..Default::default()
    };
    g.workspace_update(c, "p", patch)
}

fn custom(provider: &str, family: &str) -> NewModel {
    NewModel {
        provider: provider.into(),
        family: family.into(),
        max_input_tokens: 32_768,
        max_output_tokens: 4_096,
        ..Default::default()
    }
}

#[test]
fn new_workspaces_are_seeded_with_every_catalog_model_enabled() {
    let (g, c) = setup();
    let models = list(&g, &c, ModelFilter::default());
    assert_eq!(models.total_count as usize, g.catalog().models().len());
    assert!(
        models
            .data
            .iter()
            .all(|m| m.spec.status == ModelStatus::Enabled && m.is_catalog())
    );
    let m = g.model_get(&c, "p", "anthropic/claude-sonnet-4.6").unwrap();
    assert_eq!(m.spec.input_price_per_million_tokens, "300");
    assert_eq!(m.metadata.account_id, c.account);
    assert_eq!(m.metadata.profile_id, "user_admin");
    assert_eq!(m.metadata.name, "anthropic/claude-sonnet-4.6");
    assert!(m.metadata.id.to_string().starts_with("model_"));
    // The default workspace of the bootstrap is seeded too.
    let d = g
        .model_list(&c, "default", &ModelFilter::default(), all())
        .unwrap();
    assert_eq!(d.total_count, models.total_count);
}

#[test]
fn models_serialize_with_the_seed_camel_case_fields() {
    let (g, c) = setup();
    let m = g.model_get(&c, "p", "openai/gpt-4o").unwrap();
    let v = serde_json::to_value(&m).unwrap();
    for f in [
        "id",
        "accountId",
        "createdAt",
        "name",
        "profileId",
        "workspaceId",
        "bundleKey",
    ] {
        assert!(v["metadata"].get(f).is_some(), "metadata.{f}");
    }
    for f in [
        "family",
        "provider",
        "inputPricePerMillionTokens",
        "outputPricePerMillionTokens",
        "maxInputTokens",
        "maxOutputTokens",
        "status",
    ] {
        assert!(v["spec"].get(f).is_some(), "spec.{f}");
    }
    assert_eq!(v["spec"]["status"], "MODEL_STATUS_ENABLED");
}

#[test]
fn list_filters_by_provider_status_and_labels_and_paginates() {
    let (g, c) = setup();
    let anthropic = list(
        &g,
        &c,
        ModelFilter {
            provider: Some("anthropic".into()),
            ..Default::default()
        },
    );
    assert!(
        anthropic.total_count > 0
            && anthropic
                .data
                .iter()
                .all(|m| m.spec.provider == "anthropic")
    );
    g.model_set_status(&c, "p", "openai/o3", ModelStatus::Disabled)
        .unwrap();
    let disabled = list(
        &g,
        &c,
        ModelFilter {
            status: Some(ModelStatus::Disabled),
            ..Default::default()
        },
    );
    assert_eq!(
        disabled
            .data
            .iter()
            .map(Model::reference)
            .collect::<Vec<_>>(),
        ["openai/o3"]
    );
    let mut labeled = custom("vllm", "qwen3-32b");
    labeled.labels = Some(BTreeMap::from([
        ("tier".into(), "fast".into()),
        ("team".into(), "core".into()),
    ]));
    g.model_register(&c, "p", labeled).unwrap();
    let sel = |s: &str| ModelFilter {
        label_selector: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(list(&g, &c, sel("tier=fast")).total_count, 1);
    assert_eq!(list(&g, &c, sel("tier=fast,team=core")).total_count, 1);
    assert_eq!(list(&g, &c, sel("tier=slow")).total_count, 0);
    let err = g.model_list(&c, "p", &sel("tier"), all()).unwrap_err();
    assert_eq!(err.field(), Some("label_selector"));
    let page = g
        .model_list(
            &c,
            "p",
            &ModelFilter::default(),
            Page::new(Some(5), Some(10)).unwrap(),
        )
        .unwrap();
    assert_eq!(page.data.len(), 10);
    let refs: Vec<_> = list(&g, &c, ModelFilter::default())
        .data
        .iter()
        .map(Model::reference)
        .collect();
    let mut sorted = refs.clone();
    sorted.sort();
    assert_eq!(refs, sorted, "ordered by provider then family");
}

#[test]
fn get_by_id_or_provider_family() {
    let (g, c) = setup();
    let m = g.model_get(&c, "p", "google/gemini-2.5-pro").unwrap();
    assert_eq!(g.model_get(&c, "p", &m.metadata.id.to_string()).unwrap(), m);
    assert_eq!(
        g.model_get(&c, "p", "google/nope").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        g.model_get(&c, "p", "gemini").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // Another workspace's model id is not found here.
    let other = g.model_get(&c, "default", "google/gemini-2.5-pro").unwrap();
    let err = g
        .model_get(&c, "p", &other.metadata.id.to_string())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn defaults_must_name_an_existing_enabled_model() {
    let (g, c) = setup();
    let err = set_default(&g, &c, "openai/gpt-99").unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::InvalidArgument, Some("default_text_model"))
    );
    assert!(err.to_string().contains("openai/gpt-99"));
    g.model_set_status(&c, "p", "openai/gpt-4o", ModelStatus::Disabled)
        .unwrap();
    let err = set_default(&g, &c, "openai/gpt-4o").unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("MODEL_DISABLED")
    );
    assert!(err.to_string().contains("openai/gpt-4o"), "{err}");
    g.model_set_status(&c, "p", "openai/gpt-4o", ModelStatus::Enabled)
        .unwrap();
    assert_eq!(
        set_default(&g, &c, "openai/gpt-4o")
            .unwrap()
            .default_text_model
            .as_deref(),
        Some("openai/gpt-4o")
    );
    // On create, the new workspace's seeded catalog is what counts.
    let mut new = NewWorkspace {
        name: "Q".into(),
        slug: "q".into(),
        ..Default::default()
    };
    new.default_image_model = Some("openai/not-an-image-model".into());
    assert_eq!(
        g.workspace_create(&c, new.clone()).unwrap_err().field(),
        Some("default_image_model")
    );
    assert_eq!(
        g.workspace_get(&c, "q").unwrap_err().kind(),
        ErrorKind::NotFound,
        "nothing was created"
    );
    new.default_image_model = Some("google/gemini-2.5-flash-image".into());
    g.workspace_create(&c, new).unwrap();
}

#[test]
fn disabling_or_deleting_a_default_model_names_the_setting() {
    let (g, c) = setup();
    set_default(&g, &c, "anthropic/claude-haiku-4.5").unwrap();
    let err = g
        .model_set_status(&c, "p", "anthropic/claude-haiku-4.5", ModelStatus::Disabled)
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.reason().map(modelgates::Reason::as_str)),
        (ErrorKind::FailedPrecondition, Some("MODEL_IN_USE"))
    );
    assert!(err.to_string().contains("default_text_model"), "{err}");
    g.model_register(&c, "p", custom("ollama", "llama3.2:3b"))
        .unwrap();
    set_default(&g, &c, "ollama/llama3.2:3b").unwrap();
    let err = g.model_delete(&c, "p", "ollama/llama3.2:3b").unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("MODEL_IN_USE")
    );
    let patch = WorkspacePatch {
        default_text_model: Patch::Clear,
        ..Default::default()
    };
    g.workspace_update(&c, "p", patch).unwrap();
    g.model_delete(&c, "p", "ollama/llama3.2:3b").unwrap();
}

#[test]
fn custom_models_can_be_registered_and_deleted_catalog_models_only_disabled() {
    let (g, c) = setup();
    let m = g
        .model_register(&c, "p", custom("vllm", "qwen2.5-coder-32b"))
        .unwrap();
    assert!(!m.is_catalog() && m.metadata.bundle_key.is_none());
    assert_eq!(m.spec.input_price_per_million_tokens, "0");
    let err = g
        .model_register(&c, "p", custom("vllm", "qwen2.5-coder-32b"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = g
        .model_register(&c, "p", custom("openai", "gpt-4o"))
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Conflict,
        "catalog entries are taken too"
    );
    let mut bad = custom("vllm", "x");
    bad.input_price_per_million_tokens = Some("three".into());
    assert_eq!(
        g.model_register(&c, "p", bad).unwrap_err().field(),
        Some("inputPricePerMillionTokens")
    );
    let mut bad = custom("vllm", "x");
    bad.max_output_tokens = 0;
    assert_eq!(
        g.model_register(&c, "p", bad).unwrap_err().field(),
        Some("maxOutputTokens")
    );
    assert_eq!(
        g.model_register(&c, "p", custom("VLLM", "x"))
            .unwrap_err()
            .field(),
        Some("provider")
    );
    let err = g.model_delete(&c, "p", "openai/gpt-4o").unwrap_err();
    assert_eq!(
        err.reason().map(modelgates::Reason::as_str),
        Some("CATALOG_MODEL")
    );
    g.model_delete(&c, "p", &m.metadata.id.to_string()).unwrap();
    assert_eq!(
        g.model_get(&c, "p", "vllm/qwen2.5-coder-32b")
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    g.model_register(&c, "p", custom("vllm", "qwen2.5-coder-32b"))
        .unwrap();
}

#[test]
fn deleting_a_workspace_deletes_its_models() {
    let (g, c) = setup();
    g.model_register(&c, "p", custom("vllm", "m")).unwrap();
    g.workspace_delete(&c, "p").unwrap();
    let new = NewWorkspace {
        name: "P".into(),
        slug: "p".into(),
        ..Default::default()
    };
    g.workspace_create(&c, new).unwrap();
    assert_eq!(
        g.model_get(&c, "p", "vllm/m").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_new_catalog_adds_models_to_existing_workspaces_without_touching_user_changes() {
    let store = MemoryStore::new();
    let base = Catalog::embedded();
    let json = |models: &[CatalogModel], version: u32| {
        serde_json::json!({"version": version, "models": models}).to_string()
    };
    let open = |catalog: Catalog| {
        let options = Options {
            catalog: Arc::new(catalog),
            ..Default::default()
        };
        ModelGates::open_with(Arc::new(store.clone()), options).unwrap()
    };
    let count = |g: &ModelGates, c: &Caller, ws: &str| {
        g.model_list(c, ws, &ModelFilter::default(), all())
            .unwrap()
            .total_count
    };
    let g = open(Catalog::from_json(&json(&base.models()[..10], 1)).unwrap());
    let c = g.default_caller().unwrap();
    let changed = &base.models()[0];
    let changed_ref = format!("{}/{}", changed.provider, changed.family);
    g.model_set_status(&c, "default", &changed_ref, ModelStatus::Disabled)
        .unwrap();
    let before = g.model_get(&c, "default", &changed_ref).unwrap();
    let dropped = &base.models()[9];
    let dropped_ref = format!("{}/{}", dropped.provider, dropped.family);
    let patch = WorkspacePatch {
        default_text_model: Patch::Set(dropped_ref.clone()),
        ..Default::default()
    };
    g.workspace_update(&c, "default", patch).unwrap();
    assert_eq!(count(&g, &c, "default"), 10);
    drop(g);

    // A newer catalog: ten more models, a new price for the first, the tenth dropped.
    let mut models = base.models()[..20].to_vec();
    models[0].input_price_per_million_tokens = "999".into();
    models.remove(9);
    let g = open(Catalog::from_json(&json(&models, 2)).unwrap());
    assert_eq!(
        count(&g, &c, "default"),
        20,
        "19 listed + the dropped one the workspace keeps"
    );
    let after = g.model_get(&c, "default", &changed_ref).unwrap();
    assert_eq!(
        after.spec.status,
        ModelStatus::Disabled,
        "the user's change is kept"
    );
    assert_eq!(after.metadata.id, before.metadata.id, "ids are stable");
    assert_eq!(
        after.spec.input_price_per_million_tokens, "999",
        "catalog facts are updated"
    );
    assert!(
        g.model_get(&c, "default", &dropped_ref).is_ok(),
        "a dropped model stays where it was"
    );
    // A workspace created after the drop does not get the dropped model.
    let new = NewWorkspace {
        name: "N".into(),
        slug: "n".into(),
        ..Default::default()
    };
    g.workspace_create(&c, new).unwrap();
    assert_eq!(count(&g, &c, "n"), 19);
    assert_eq!(
        g.model_get(&c, "n", &dropped_ref).unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Issue 13: the catalog has current image-generation models (seed 000's example sets
/// `default_image_model: "openai/dall-e-3"`), a default image model must produce images and a
/// default text model text, and a custom model can be an image model.
#[test]
fn default_image_models_are_image_models_and_text_defaults_are_text_models() {
    let (g, c) = setup();
    let images: Vec<String> = list(&g, &c, ModelFilter::default())
        .data
        .into_iter()
        .filter(|m| m.spec.output == ModelOutput::Image)
        .map(|m| m.reference())
        .collect();
    for m in [
        "openai/dall-e-3",
        "openai/gpt-image-1",
        "google/gemini-2.5-flash-image",
    ] {
        assert!(
            images.iter().any(|i| i == m),
            "{m} is an image model: {images:?}"
        );
    }
    let dalle = g.model_get(&c, "p", "openai/dall-e-3").unwrap();
    assert_eq!(dalle.spec.output_price_per_image.as_deref(), Some("4"));

    let created = g
        .workspace_create(
            &c,
            NewWorkspace {
                name: "Production".into(),
                slug: "production".into(),
                default_text_model: Some("openai/gpt-4o".into()),
                default_image_model: Some("openai/dall-e-3".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        created.default_image_model.as_deref(),
        Some("openai/dall-e-3")
    );

    let image = |model: &str| {
        g.workspace_update(
            &c,
            "p",
            WorkspacePatch {
                default_image_model: Patch::Set(model.into()),
                ..Default::default()
            },
        )
    };
    let err = image("openai/gpt-4o").unwrap_err();
    assert_eq!(err.field(), Some("default_image_model"), "{err}");
    assert!(err.to_string().contains("produces text"), "{err}");
    let err = set_default(&g, &c, "openai/dall-e-3").unwrap_err();
    assert_eq!(err.field(), Some("default_text_model"), "{err}");
    assert!(err.to_string().contains("produces image"), "{err}");

    // A custom image model; only image models have a price per image.
    let m = g
        .model_register(
            &c,
            "p",
            NewModel {
                provider: "local".into(),
                family: "sdxl".into(),
                max_input_tokens: 0,
                max_output_tokens: 0,
                output: Some(ModelOutput::Image),
                output_price_per_image: Some("0.5".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(m.spec.output, ModelOutput::Image);
    image("local/sdxl").unwrap();
    let err = g
        .model_register(
            &c,
            "p",
            NewModel {
                provider: "local".into(),
                family: "llm".into(),
                max_input_tokens: 8192,
                max_output_tokens: 1024,
                output_price_per_image: Some("1".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("outputPricePerImage"), "{err}");
    assert!(g.check().unwrap().is_ok());
}
