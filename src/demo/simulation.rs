pub struct DemoApi;
pub async fn start() {}
